//! `molt`: the node's command line. Parses arguments and hands over to `molt_host::cli`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = molt_host::cli::Cli::parse();
    // Kept to the end: dropping it flushes the traces not yet exported.
    let _telemetry =
        match molt_host::cli::init_logging(cli.log_format, cli.otlp_endpoint.as_deref()) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e:#}");
                return std::process::ExitCode::FAILURE;
            }
        };
    match molt_host::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
