fn main() {
    std::process::exit(tapedeck::cli::main());
}
