// Must not compile: util, the lowest layer, sees no header of the aws layer.
#include "aws/client.hpp"
