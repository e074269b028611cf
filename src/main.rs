//! The `clerk` binary: everything lives in the library; this only hands over control.

fn main() -> std::process::ExitCode {
    clerk::cli::main()
}
