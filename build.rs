//! Generates include/rr.h with cbindgen and gives the shared library its name for the
//! loader and an export list of `rr_*` symbols only: on Linux a SONAME (`librr.so.0`) and a
//! version script; on macOS an install name (`@rpath/librr.0.dylib`) and an exported-
//! symbols list. (The macOS path cannot be linked on the Linux CI machine; it is kept to
//! the two linker flags that Apple's ld documents.)

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");

    generate_header(&crate_dir);
    match std::env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("linux") => link_shared_library(),
        Ok("macos") => link_shared_library_macos(),
        _ => {}
    }
}

fn generate_header(crate_dir: &std::path::Path) {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let patch = std::env::var("CARGO_PKG_VERSION_PATCH").unwrap();
    let mut config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    config.after_includes = Some(format!(
        "\n/** The version of the header; rr_version() gives the library's. */\n\
         #define RR_VERSION_MAJOR {major}\n\
         #define RR_VERSION_MINOR {minor}\n\
         #define RR_VERSION_PATCH {patch}\n\n\
         /** The bytes a digest takes with its NUL (\"sha256:\" and 64 hex digits): the least\n \
         * digest_cap of rr_blob_write_file and rr_blob_write_reader. */\n\
         #define RR_DIGEST_SIZE 72\n"
    ));
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate rr.h");
    let path = crate_dir.join("include").join("rr.h");
    // Written only when it changes, so that a build does not touch a committed file.
    bindings.write_to_file(path);
}

fn link_shared_library() {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let map = out_dir.join("rr.map");
    std::fs::write(&map, "{\n  global:\n    rr_*;\n  local:\n    *;\n};\n")
        .expect("writing the version script");
    // The SONAME follows the major version: librr.so.0 for all of 0.x (README: while 0.x
    // the ABI may change between minor versions).
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let soname = format!("librr.so.{major}");
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
        map.display()
    );
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
}

fn link_shared_library_macos() {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let list = out_dir.join("rr.exports");
    // Apple's ld takes C symbol names with the leading underscore and `*` wildcards.
    std::fs::write(&list, "_rr_*\n").expect("writing the exported-symbols list");
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,-exported_symbols_list,{}",
        list.display()
    );
    println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/librr.{major}.dylib");
}
