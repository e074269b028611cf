//! Release builds for this machine: relative relocations packed (RELR) when it is safe.
//!
//! A position-independent executable carries one 24-byte relocation for every pointer in its
//! data (clerk's: ~44,000, 1.06 MB of a 20 MB binary). Packed, they take a few kilobytes,
//! but the program then needs a dynamic loader that reads them: glibc 2.36 or newer. So the
//! flag is given only when every one of these holds, and never otherwise:
//! - a release build (`cargo build --release`, `cargo install`), for the machine building it
//!   (host = target), x86_64 Linux with glibc;
//! - rustc 1.90 or newer with no linker chosen (its own LLD, which packs them), and no
//!   linker flags of the user's;
//! - the building machine's glibc is 2.36 or newer (`getconf GNU_LIBC_VERSION`): the binary
//!   runs where it was built;
//! - `CLERK_PORTABLE_BUILD` is not set (set it to build a binary for older systems).
//!
//! docs/performance.md ("The binary") has the numbers.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // The message catalogs are read by a macro at compile time: a change must rebuild.
    println!("cargo:rerun-if-changed=locales");
    println!("cargo:rerun-if-env-changed=CLERK_PORTABLE_BUILD");
    if pack_relocations() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

fn pack_relocations() -> bool {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("PROFILE") != "release"
        || std::env::var_os("CLERK_PORTABLE_BUILD").is_some()
        || var("TARGET") != "x86_64-unknown-linux-gnu"
        || var("HOST") != var("TARGET")
        || std::env::var_os("RUSTC_LINKER").is_some()
        || var("CARGO_ENCODED_RUSTFLAGS").contains("link")
    {
        return false;
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let rustc_minor = output(Command::new(rustc).arg("--version"))
        .and_then(|v| version_after(&v, "rustc "))
        .filter(|(major, _)| *major == 1)
        .map(|(_, minor)| minor);
    let glibc = output(Command::new("getconf").arg("GNU_LIBC_VERSION"))
        .and_then(|v| version_after(&v, "glibc "));
    matches!(rustc_minor, Some(m) if m >= 90) && matches!(glibc, Some(v) if v >= (2, 36))
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `(major, minor)` of the version that follows `prefix` in `text` ("rustc 1.95.0 (…)").
fn version_after(text: &str, prefix: &str) -> Option<(u32, u32)> {
    let rest = text.trim().strip_prefix(prefix)?;
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}
