// A C++ program linked against libsnmalloc_rs with pkg-config: its
// operator new and delete are snmalloc's.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <snmalloc_rs.h>

int main() {
  std::vector<std::unique_ptr<std::string>> v;
  for (int i = 0; i < 1000; i++) {
    v.push_back(std::make_unique<std::string>(100, 'x'));
    if (snmalloc_rs_owns(v.back().get()) != 1 ||
        snmalloc_rs_owns(v.back()->data()) != 1) {
      std::fprintf(stderr, "block %d is not snmalloc's\n", i);
      return 1;
    }
  }
  auto* aligned = new (std::align_val_t(4096)) char[10];
  bool ok = snmalloc_rs_owns(aligned) == 1 &&
            reinterpret_cast<std::uintptr_t>(aligned) % 4096 == 0;
  operator delete[](aligned, std::align_val_t(4096));
  if (!ok) return 1;
  std::printf("served by snmalloc\n");
  return 0;
}
