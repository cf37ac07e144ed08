// Replays files through a fuzz target's LLVMFuzzerTestOneInput without libFuzzer, so the
// committed corpus (seeds and regression inputs) runs in every build, gcc included, under
// whatever sanitizers the build directory uses.
//
//   fuzz_corpus_<name> PATH...    each PATH a file, or a directory read recursively
//
// A target reports a bug by crashing (__builtin_trap or a sanitizer), which fails the test;
// the input being run was printed just before. Running no input at all also fails: an empty
// or misspelled corpus must not pass silently.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

// Adds `path` (a file, or every regular file below a directory) to `inputs`.
bool collect(const fs::path& path, std::vector<fs::path>& inputs) {
    std::error_code error;
    if (fs::is_regular_file(path, error)) {
        inputs.push_back(path);
        return true;
    }
    if (!fs::is_directory(path, error)) {
        std::fprintf(stderr, "error: %s: no such file or directory\n", path.c_str());
        return false;
    }
    for (fs::recursive_directory_iterator it(path, error), end; !error && it != end;
         it.increment(error)) {
        if (it->is_regular_file(error)) {
            inputs.push_back(it->path());
        }
    }
    if (error) {
        std::fprintf(stderr, "error: %s: %s\n", path.c_str(), error.message().c_str());
        return false;
    }
    return true;
}

// Reads a whole file (stdio: iostream iterators trip gcc's -Wnull-dereference).
bool read_file(const fs::path& path, std::vector<char>& contents) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                         &std::fclose);
    if (!file) {
        return false;
    }
    contents.clear();
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
        contents.insert(contents.end(), buffer, buffer + n);
    }
    return std::ferror(file.get()) == 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
        return 2;
    }
    std::vector<fs::path> inputs;
    for (int i = 1; i < argc; ++i) {
        if (!collect(argv[i], inputs)) {
            return 1;
        }
    }
    std::sort(inputs.begin(), inputs.end());

    std::vector<char> contents;
    for (const auto& path : inputs) {
        if (!read_file(path, contents)) {
            std::fprintf(stderr, "error: cannot read %s\n", path.c_str());
            return 1;
        }
        std::printf("running %s (%zu bytes)\n", path.c_str(), contents.size());
        std::fflush(stdout);
        // A heap block of exactly the input's size, as libFuzzer passes it, so a read one
        // byte past the end is caught by AddressSanitizer.
        auto data = std::make_unique<std::uint8_t[]>(contents.size());
        std::copy(contents.begin(), contents.end(), data.get());
        LLVMFuzzerTestOneInput(data.get(), contents.size());
    }

    if (inputs.empty()) {
        std::fprintf(stderr, "error: no input files found\n");
        return 1;
    }
    std::printf("%zu inputs ran without a crash\n", inputs.size());
    return 0;
}
