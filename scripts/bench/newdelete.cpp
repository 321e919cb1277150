// Many small C++ new/delete: node-based containers and shared pointers, as
// typical C++ services churn them.
//   newdelete ROUNDS
#include <cstdio>
#include <cstdlib>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 40;
  unsigned long sum = 0;
  for (int r = 0; r < rounds; r++) {
    std::map<int, std::string> m;
    for (int i = 0; i < 50000; i++) m.emplace(i * 7919 % 50000, std::string(16 + i % 40, 'x'));
    for (int i = 0; i < 50000; i += 2) m.erase(i);
    std::list<std::shared_ptr<std::vector<int>>> l;
    for (int i = 0; i < 50000; i++) l.push_back(std::make_shared<std::vector<int>>(i % 13 + 1, i));
    for (auto& p : l) sum += p->size();
    sum += m.size();
  }
  std::printf("newdelete done %lu\n", sum);
  return 0;
}
