// Must not compile: the aws layer sees no header of the job layer above it
// (the ctest "layering.*" checks the build refuses it, and why).
#include "job/spec.hpp"
