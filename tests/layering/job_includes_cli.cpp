// Must not compile: the job layer sees no header of the command line above it.
#include "cli/commands.hpp"
