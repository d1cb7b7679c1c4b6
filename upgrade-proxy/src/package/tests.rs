//! Every refusal reason, each with the exact error.

use super::*;
use molt_abi::{Budgets, Capability};

/// A minimal `rpc` module that fits the ABI, plus optional extra WAT fields.
fn rpc_module(extra: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
            {extra}
            (memory (export "memory") 1)
            (func (export "molt_abi_version") (result i32) i32.const 1)
            (func (export "molt_alloc") (param i32) (result i32) i32.const 8)
            (func (export "molt_free") (param i32 i32))
            (func (export "molt_rpc_handle") (param i32 i32) (result i64) i64.const 0))"#
    ))
    .expect("valid wat")
}

fn manifest(kind: Kind, version: &str) -> Manifest {
    Manifest {
        abi_version: ABI_VERSION,
        kind,
        name: "test".into(),
        version: version.into(),
        budgets: Budgets::default(),
        capabilities: vec![Capability::Stdio],
    }
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn verify_with(bytes: Vec<u8>, trusted: &SigningKey) -> Result<Verified, PackageError> {
    Verifier::new([trusted.verifying_key()]).verify(Package::parse(bytes)?, Some(Kind::Rpc), &[])
}

/// Signs `module` whose manifest section is already in place (possibly malformed).
fn sign_raw(module: Vec<u8>, key: &SigningKey) -> Vec<u8> {
    let mut out = module;
    let digest: [u8; 32] = Sha256::digest(&out).into();
    let sig = SignatureSection::sign(key, &digest);
    sections::append_custom(&mut out, SIGNATURE_SECTION, &sig.encode_to_vec());
    out
}

#[test]
fn a_signed_module_verifies_and_keeps_its_manifest() {
    let k = key(1);
    let signed = sign(&rpc_module(""), &manifest(Kind::Rpc, "1.0.0"), &k).unwrap();
    let v = verify_with(signed.clone(), &k).unwrap();
    assert_eq!(v.manifest, manifest(Kind::Rpc, "1.0.0"));
    assert_eq!(v.signer, k.verifying_key());
    // Signing again replaces the sections rather than stacking them.
    let resigned = sign(&signed, &manifest(Kind::Rpc, "1.0.1"), &k).unwrap();
    assert_eq!(verify_with(resigned, &k).unwrap().manifest.version, "1.0.1");
}

#[test]
fn refuses_an_unsigned_module() {
    let mut m = rpc_module("");
    sections::append_custom(
        &mut m,
        MANIFEST_SECTION,
        &manifest(Kind::Rpc, "1.0.0").encode_to_vec(),
    );
    assert_eq!(verify_with(m, &key(1)).unwrap_err(), PackageError::Unsigned);
}

#[test]
fn refuses_a_tampered_module() {
    let k = key(1);
    let signed = sign(&rpc_module(""), &manifest(Kind::Rpc, "1.0.0"), &k).unwrap();
    // Change the code: `i32.const 8` in molt_alloc becomes `i32.const 9`.
    let mut code = signed.clone();
    let at = code.windows(2).position(|w| w == [0x41, 0x08]).unwrap();
    code[at + 1] = 0x09;
    assert!(matches!(
        verify_with(code, &k),
        Err(PackageError::Tampered { .. })
    ));
    // Change the manifest: re-encode with another version but keep the signature.
    let sections = sections::split(&signed).unwrap();
    let mut forged = sections::without(&signed, &sections, |_| true);
    sections::append_custom(
        &mut forged,
        MANIFEST_SECTION,
        &manifest(Kind::Rpc, "9.0.0").encode_to_vec(),
    );
    let sig = Package::parse(signed).unwrap().signature.unwrap();
    sections::append_custom(&mut forged, SIGNATURE_SECTION, &sig.encode_to_vec());
    assert!(matches!(
        verify_with(forged, &k),
        Err(PackageError::Tampered { .. })
    ));
}

#[test]
fn refuses_an_unknown_signer() {
    let signed = sign(&rpc_module(""), &manifest(Kind::Rpc, "1.0.0"), &key(2)).unwrap();
    assert_eq!(
        verify_with(signed, &key(1)).unwrap_err(),
        PackageError::UnknownSigner(hex::encode(key(2).verifying_key().to_bytes()))
    );
}

#[test]
fn refuses_the_wrong_kind() {
    let k = key(1);
    let m = wat::parse_str(
        r#"(module
            (memory (export "memory") 1)
            (func (export "molt_abi_version") (result i32) i32.const 1)
            (func (export "molt_alloc") (param i32) (result i32) i32.const 8)
            (func (export "molt_free") (param i32 i32))
            (func (export "molt_execute_block") (param i32 i32) (result i64) i64.const 0)
            (func (export "molt_execute_call") (param i32 i32) (result i64) i64.const 0))"#,
    )
    .unwrap();
    let signed = sign(&m, &manifest(Kind::Execution, "1.0.0"), &k).unwrap();
    assert_eq!(
        verify_with(signed, &k).unwrap_err(),
        PackageError::WrongKind {
            expected: Kind::Rpc,
            found: Kind::Execution
        }
    );
}

#[test]
fn refuses_an_unknown_abi_version() {
    let k = key(1);
    let mut m = manifest(Kind::Rpc, "1.0.0");
    m.abi_version = 2;
    let signed = sign(&rpc_module(""), &m, &k).unwrap();
    assert_eq!(
        verify_with(signed, &k).unwrap_err(),
        PackageError::UnknownAbi { found: 2 }
    );
}

#[test]
fn refuses_a_malformed_manifest() {
    let k = key(1);
    let mut garbage = rpc_module("");
    sections::append_custom(&mut garbage, MANIFEST_SECTION, b"\xc5\x01");
    let err = verify_with(sign_raw(garbage, &k), &k).unwrap_err();
    assert!(
        matches!(err, PackageError::MalformedManifest(ref m) if m.contains("RLP")),
        "{err}"
    );

    let mut bad_version = manifest(Kind::Rpc, "one.two");
    let mut m = rpc_module("");
    sections::append_custom(&mut m, MANIFEST_SECTION, &bad_version.encode_to_vec());
    let err = verify_with(sign_raw(m, &k), &k).unwrap_err();
    assert!(
        matches!(err, PackageError::MalformedManifest(ref m) if m.contains("one.two")),
        "{err}"
    );

    // `sign` refuses to produce one in the first place.
    bad_version.name = String::new();
    assert!(matches!(
        sign(&rpc_module(""), &bad_version, &k),
        Err(PackageError::MalformedManifest(_))
    ));

    let mut m = rpc_module("");
    sections::append_custom(&mut m, SIGNATURE_SECTION, b"junk");
    let err = verify_with(m, &k).unwrap_err();
    assert!(matches!(err, PackageError::MalformedSignature(_)), "{err}");
}

#[test]
fn refuses_a_missing_required_export() {
    let k = key(1);
    let m = wat::parse_str(
        r#"(module
            (memory (export "memory") 1)
            (func (export "molt_abi_version") (result i32) i32.const 1)
            (func (export "molt_free") (param i32 i32))
            (func (export "molt_rpc_handle") (param i32 i32) (result i64) i64.const 0))"#,
    )
    .unwrap();
    let signed = sign(&m, &manifest(Kind::Rpc, "1.0.0"), &k).unwrap();
    assert_eq!(
        verify_with(signed, &k).unwrap_err(),
        PackageError::Interface(InterfaceError::MissingExport("molt_alloc"))
    );
}

#[test]
fn refuses_an_import_outside_the_kinds_allow_list() {
    let k = key(1);
    let m = wat::parse_str(
        r#"(module
            (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))
            (memory (export "memory") 1)
            (func (export "molt_abi_version") (result i32) i32.const 1)
            (func (export "molt_alloc") (param i32) (result i32) i32.const 8)
            (func (export "molt_free") (param i32 i32))
            (func (export "molt_execute_block") (param i32 i32) (result i64) i64.const 0)
            (func (export "molt_execute_call") (param i32 i32) (result i64) i64.const 0))"#,
    )
    .unwrap();
    let signed = sign(&m, &manifest(Kind::Execution, "1.0.0"), &k).unwrap();
    let err = Verifier::new([k.verifying_key()])
        .verify(Package::parse(signed).unwrap(), Some(Kind::Execution), &[])
        .unwrap_err();
    assert_eq!(
        err,
        PackageError::Interface(InterfaceError::ImportNotAllowed {
            module: "wasi_snapshot_preview1".into(),
            name: "random_get".into(),
            kind: Kind::Execution
        })
    );
    assert_eq!(
        err.to_string(),
        "does not fit the ABI: import `wasi_snapshot_preview1.random_get` is not allowed for execution modules"
    );
    // Host functions outside `molt`'s list are refused as well.
    let m = rpc_module(r#"(import "molt" "spawn_shell" (func))"#);
    let signed = sign(&m, &manifest(Kind::Rpc, "1.0.0"), &k).unwrap();
    assert!(matches!(
        verify_with(signed, &k),
        Err(PackageError::Interface(
            InterfaceError::ImportNotAllowed { .. }
        ))
    ));
}

#[test]
fn a_downgrade_is_judged_against_the_newest_version_of_the_same_name() {
    let k = key(1);
    let verifier = Verifier::new([k.verifying_key()]);
    let package = |name: &str, version: &str| {
        let mut m = manifest(Kind::Rpc, version);
        m.name = name.into();
        Package::parse(sign(&rpc_module(""), &m, &k).unwrap()).unwrap()
    };
    let ran = package("rpc-eth", "1.2.0");
    let history = [
        VersionInfo {
            name: "rpc-eth".into(),
            version: "1.2.0".into(),
            digest: ran.digest_hex(),
        },
        VersionInfo {
            name: "rpc-eth".into(),
            version: "1.0.0".into(),
            digest: "00".into(),
        },
        VersionInfo {
            name: "other-rpc".into(),
            version: "9.0.0".into(),
            digest: "11".into(),
        },
    ];
    for version in ["1.2.1", "2.0.0-rc.1"] {
        let got = verifier.verify(package("rpc-eth", version), None, &history);
        assert!(got.is_ok(), "{version}: {got:?}");
    }
    // The same package again: back to a version that ran.
    assert!(verifier.verify(ran, None, &history).is_ok());
    // Another name replaces whatever ran, at any version.
    assert!(
        verifier
            .verify(package("my-rpc", "0.1.0"), None, &history)
            .is_ok()
    );
    for version in ["1.1.9", "1.0.0"] {
        assert_eq!(
            verifier
                .verify(package("rpc-eth", version), None, &history)
                .unwrap_err(),
            PackageError::Downgrade {
                name: "rpc-eth".into(),
                installed: "1.2.0".into(),
                candidate: version.into()
            }
        );
    }
    // Equal version, other code (the manifest's budgets make the bytes differ).
    let mut m = manifest(Kind::Rpc, "1.2.0");
    m.name = "rpc-eth".into();
    m.budgets.fuel = 7;
    let other = Package::parse(sign(&rpc_module(""), &m, &k).unwrap()).unwrap();
    let candidate = other.digest_hex();
    let err = verifier.verify(other, None, &history).unwrap_err();
    assert_eq!(
        err,
        PackageError::SameVersionDifferentCode {
            name: "rpc-eth".into(),
            version: "1.2.0".into(),
            installed: history[0].digest.clone(),
            candidate
        }
    );
    assert!(err.to_string().starts_with("same version, different code"));
}

#[test]
fn refuses_what_is_not_a_module() {
    assert!(matches!(
        Package::parse(b"\0asm\x01\0\0\0\x05garbage".to_vec()),
        Err(PackageError::NotWasm(_))
    ));
    assert!(matches!(
        Package::parse(b"hello".to_vec()),
        Err(PackageError::NotWasm(_))
    ));
    let mut twice = rpc_module("");
    sections::append_custom(&mut twice, MANIFEST_SECTION, b"a");
    sections::append_custom(&mut twice, MANIFEST_SECTION, b"b");
    assert_eq!(
        Package::parse(twice).unwrap_err(),
        PackageError::DuplicateSection(MANIFEST_SECTION)
    );
}

#[test]
fn refuses_proposals_outside_the_abi() {
    // A shared memory needs the threads proposal.
    let threads = wat::parse_str(
        r#"(module (memory (export "memory") 1 1 shared)
            (func (export "molt_abi_version") (result i32) i32.const 1))"#,
    )
    .unwrap();
    let err = Package::parse(threads).unwrap_err();
    assert!(
        matches!(&err, PackageError::NotWasm(m) if m.contains("threads")),
        "{err}"
    );
    // Wide arithmetic is in.
    let wide = rpc_module(
        "(func (param i64 i64) (result i64 i64) (i64.mul_wide_u (local.get 0) (local.get 1)))",
    );
    assert!(Package::parse(wide).is_ok());
}
