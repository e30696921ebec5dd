#include <ouro/ouro.hpp>
#include <cstdio>
int main() { std::printf("tour: %zu\n", ouro::gc::collect()); }
