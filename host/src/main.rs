//! `molt`: the node's command line. Parses arguments and hands over to `molt_host::cli`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    molt_host::cli::init_logging();
    match molt_host::cli::run(molt_host::cli::Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
