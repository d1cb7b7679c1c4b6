//! `molt dev`, the README's first command, from a user's point of view.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::process::Command;

#[test]
fn dev_signs_loads_and_calls_the_builtin_modules_and_reuses_its_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_molt"))
            .args(["dev", "--datadir", dir.path().to_str().unwrap()])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = run();
    assert!(first.contains(r#""result":"molt-echo/0.1.0""#), "{first}");
    assert!(first.contains("(Compiled,"), "{first}");
    let key_line = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("dev key"))
            .unwrap()
            .to_string()
    };

    // A restart keeps the dev key and finds the compiled module on disk.
    let second = run();
    assert_eq!(key_line(&first), key_line(&second));
    assert!(second.contains("(Disk,"), "{second}");
    assert!(dir.path().join("modules/echo-0.1.0.wasm").exists());
}
