//! The static C library's own error paths refer to GCC's unwinder: link it in.
fn main() {
    println!("cargo:rustc-link-arg-bins=-lgcc_eh");
}
