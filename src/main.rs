fn main() {
    // SAFETY: the first thing the program does, while it has one thread: nothing else can
    // read the environment concurrently. PipeWire reads PIPEWIRE_PROPS when tapedeck's
    // streams are created, much later.
    unsafe { tapedeck::audio::pipewire::ask_not_to_remix() };
    std::process::exit(tapedeck::cli::main());
}
