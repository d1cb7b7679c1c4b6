//! `molt module new`: a guest module project to start from — sources, a manifest, a
//! `build.sh` that builds `build/<name>.wasm`, and a `test.sh` that builds it, signs
//! it with a throwaway key and runs `molt module check` on it.
//!
//! The sources are molt's own examples (`examples/`) and templates
//! (`host/templates/`), compiled into the binary, so what a scaffold holds is what the
//! project's tests build and check.

use std::path::{Path, PathBuf};

use molt_abi::Kind;

/// A language a scaffold can be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust, built with cargo for `wasm32-wasip1`.
    Rust,
    /// C, built with clang and wasi-libc.
    C,
    /// AssemblyScript, built with npm's `assemblyscript`.
    Assemblyscript,
    /// The WebAssembly text format, assembled by `molt module sign` itself.
    Wat,
}

/// Why a scaffold was not written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// No template for this kind in this language.
    #[error("no {lang:?} template for the {kind} kind: {hint}")]
    NotOffered {
        /// The kind asked for.
        kind: Kind,
        /// The language asked for.
        lang: Lang,
        /// What to start from instead.
        hint: &'static str,
    },
    /// The directory's name cannot name a module.
    #[error(
        "{0:?} cannot name a module: use lowercase letters, digits and '-', starting with a letter"
    )]
    BadName(String),
    /// The directory exists and is not empty.
    #[error("{0} exists and is not empty")]
    NotEmpty(PathBuf),
    /// Writing failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the filesystem said.
        source: std::io::Error,
    },
}

/// One file of a scaffold.
struct File {
    path: &'static str,
    text: &'static str,
    executable: bool,
}

const fn file(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        executable: false,
    }
}

const fn script(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        executable: true,
    }
}

const C_HEADER: File = file(
    "molt_guest.h",
    include_str!("../../examples/c-common/molt_guest.h"),
);

const C_BUILD: &str = "#!/bin/sh
# Builds build/{{name}}.wasm with clang and wasi-libc
# (Debian: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32).
# -mexec-model=reactor: a WASI reactor, no _start (ABI.md section 1).
set -eu
cd \"$(dirname \"$0\")\"
mkdir -p build
clang --target=wasm32-wasi -O2 -Wall -Wextra -Werror -mexec-model=reactor \\
    -Wl,--strip-all -o build/{{name}}.wasm {{source}}
echo \"built build/{{name}}.wasm\"
";

const AS_BUILD: &str = "#!/bin/sh
# Builds build/{{name}}.wasm with AssemblyScript (pinned by package-lock.json).
set -eu
cd \"$(dirname \"$0\")\"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
echo \"built build/{{name}}.wasm\"
";

const WAT_BUILD: &str = "#!/bin/sh
# Nothing to compile: `molt module sign` and `molt module check` read .wat directly;
# this assembles it into build/{{name}}.wasm for other tools.
set -eu
cd \"$(dirname \"$0\")\"
mkdir -p build
molt=${MOLT:-molt}
[ -f build/dev.key ] || \"$molt\" module keygen -o build/dev.key >/dev/null 2>&1
\"$molt\" module sign --key build/dev.key --manifest manifest.toml {{name}}.wat \\
    -o build/{{name}}.wasm >/dev/null
echo \"built build/{{name}}.wasm\"
";

/// The files of a scaffold of `kind` in `lang`.
fn files(kind: Kind, lang: Lang) -> Result<Vec<File>, ScaffoldError> {
    let not_offered = |hint| ScaffoldError::NotOffered { kind, lang, hint };
    Ok(match (kind, lang) {
        (Kind::Rpc, Lang::Rust) => vec![
            file(
                "Cargo.toml",
                include_str!("../templates/rpc-rust/Cargo.toml"),
            ),
            file(
                ".cargo/config.toml",
                include_str!("../templates/rpc-rust/.cargo/config.toml"),
            ),
            file(
                "src/lib.rs",
                include_str!("../templates/rpc-rust/src/lib.rs"),
            ),
            // molt's own lock: the scaffold builds with the versions molt is tested
            // with (cargo drops what it does not use).
            file("Cargo.lock", include_str!("../../Cargo.lock")),
            script("build.sh", include_str!("../templates/rpc-rust/build.sh")),
        ],
        (Kind::Rpc, Lang::C) => vec![
            C_HEADER,
            file("rpc.c", include_str!("../../examples/c-rpc/rpc.c")),
            script("build.sh", C_BUILD),
        ],
        (Kind::Consensus, Lang::C) => vec![
            C_HEADER,
            file(
                "consensus.c",
                include_str!("../../examples/c-consensus/consensus.c"),
            ),
            script("build.sh", C_BUILD),
        ],
        (Kind::Rpc, Lang::Assemblyscript) => vec![
            file(
                "package.json",
                include_str!("../../examples/assemblyscript-rpc/package.json"),
            ),
            file(
                "package-lock.json",
                include_str!("../../examples/assemblyscript-rpc/package-lock.json"),
            ),
            file(
                "assembly/index.ts",
                include_str!("../../examples/assemblyscript-rpc/assembly/index.ts"),
            ),
            script("build.sh", AS_BUILD),
        ],
        (Kind::Rpc, Lang::Wat) => vec![
            file("{{name}}.wat", include_str!("../templates/rpc.wat")),
            script("build.sh", WAT_BUILD),
        ],
        (Kind::Execution, _) => {
            return Err(not_offered(
                "an execution module must execute Ethereum blocks byte for byte as the \
                 chain's module does; start from guest-modules/execution-revm (revm, Rust) in \
                 molt's repository",
            ));
        }
        (Kind::Consensus, _) => {
            return Err(not_offered(
                "use --lang c (round-robin proof of authority), or start from \
                 guest-modules/consensus-poa (Rust) in molt's repository",
            ));
        }
    })
}

/// What replaces `{{…}}` in the templates.
struct Names<'a> {
    name: &'a str,
    kind: Kind,
    lang: Lang,
}

impl Names<'_> {
    fn fill(&self, text: &str) -> String {
        let crate_name = self.name.replace('-', "_");
        let source = match self.kind {
            Kind::Consensus => "consensus.c",
            _ => "rpc.c",
        };
        let molt_abi = Path::new(env!("CARGO_MANIFEST_DIR")).join("../abi");
        let molt_abi = molt_abi.canonicalize().unwrap_or(molt_abi);
        text.replace("{{name}}", self.name)
            .replace("{{crate}}", &crate_name)
            .replace("{{source}}", source)
            .replace("{{molt_abi}}", &molt_abi.display().to_string())
            // The examples, renamed: their include path, client version and package.
            .replace("../c-common/molt_guest.h", "molt_guest.h")
            .replace("c-rpc/0.1.0", &format!("{}/0.1.0", self.name))
            .replace("as-rpc/0.1.0", &format!("{}/0.1.0", self.name))
            .replace("build/as-rpc.wasm", &format!("build/{}.wasm", self.name))
            .replace("molt-example-assemblyscript-rpc", self.name)
    }

    fn manifest(&self) -> String {
        let budgets = match self.kind {
            Kind::Rpc => "memory_bytes = 16777216   # 16 MiB\ntime_ms = 250",
            _ => "memory_bytes = 16777216   # 16 MiB",
        };
        format!(
            "# The manifest `molt module sign --manifest` embeds in the module (abi/ABI.md \
             section 7).\nkind = \"{}\"\nname = \"{}\"\nversion = \"0.1.0\"\ncapabilities = []\n\n\
             [budgets]\n{budgets}\n",
            self.kind, self.name
        )
    }

    fn test(&self) -> String {
        let module = match self.lang {
            Lang::Wat => format!("{}.wat", self.name),
            _ => format!("build/{}.wasm", self.name),
        };
        format!(
            "#!/bin/sh
# Builds the module, signs it with a throwaway publisher key (build/dev.key) and runs
# molt's conformance checks on it; exits non-zero if any fails. MOLT names the molt
# binary (default: molt on PATH).
set -eu
cd \"$(dirname \"$0\")\"
molt=${{MOLT:-molt}}
mkdir -p build
[ -f build/dev.key ] || \"$molt\" module keygen -o build/dev.key >/dev/null 2>&1
./build.sh
\"$molt\" module sign --key build/dev.key --manifest manifest.toml {module} \\
    -o build/{name}.signed.wasm
\"$molt\" module check build/{name}.signed.wasm
",
            name = self.name
        )
    }

    fn readme(&self) -> String {
        format!(
            "# {name}\n\nA molt `{kind}` guest module in {lang:?}, from `molt module new`.\n\n\
             - `./build.sh` builds `build/{name}.wasm`.\n\
             - `./test.sh` builds it, signs it with a throwaway key and runs `molt module \
             check` (set `MOLT` to the molt binary if it is not on `PATH`).\n\
             - `molt module sign --key KEY --manifest manifest.toml build/{name}.wasm -o \
             {name}.signed.wasm` signs it for a node; `molt module deploy` (rpc) or `molt \
             module schedule` (consensus, execution) puts it on one.\n\n\
             The ABI is molt's `abi/ABI.md`.\n",
            name = self.name,
            kind = self.kind,
            lang = self.lang,
        )
    }
}

/// Writes a scaffold of `kind` in `lang` into `dir` (created; it must not hold
/// anything), named after the directory. Returns the files written.
pub fn write(dir: &Path, kind: Kind, lang: Lang) -> Result<Vec<PathBuf>, ScaffoldError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(ScaffoldError::BadName(name));
    }
    if dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(ScaffoldError::NotEmpty(dir.to_path_buf()));
    }
    let names = Names {
        name: &name,
        kind,
        lang,
    };
    let mut out: Vec<(String, String, bool)> = files(kind, lang)?
        .into_iter()
        .map(|f| {
            let path = names.fill(f.path);
            let text = names.fill(f.text);
            (path, text, f.executable)
        })
        .collect();
    let gitignore = match lang {
        Lang::Rust => "build/\ntarget/\n",
        Lang::Assemblyscript => "build/\nnode_modules/\n",
        Lang::C | Lang::Wat => "build/\n",
    };
    out.push(("manifest.toml".into(), names.manifest(), false));
    out.push(("test.sh".into(), names.test(), true));
    out.push(("README.md".into(), names.readme(), false));
    out.push((".gitignore".into(), gitignore.into(), false));
    let mut written = Vec::new();
    for (path, text, executable) in out {
        let path = dir.join(path);
        write_file(&path, &text, executable).map_err(|source| ScaffoldError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

fn write_file(path: &Path, text: &str, executable: bool) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)?;
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}
