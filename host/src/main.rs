//! `molt`: the node's command line. Parses arguments and hands over to `molt_host::cli`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = molt_host::cli::Cli::parse();
    molt_host::cli::init_logging(cli.log_format);
    match molt_host::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
