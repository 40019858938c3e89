//! The `pgdag` command line. Everything it does lives in the library; this file only
//! parses arguments and maps errors to exit codes (0 ok, 1 runtime error, 2 usage or
//! validation error).

use clap::Parser;

fn main() {
    let cli = pgdag::cli::Cli::parse();
    pgdag::logging::init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(pgdag::cli::run(cli));
    std::process::exit(code);
}
