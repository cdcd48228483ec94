// COpsLogPrefetch is header-only (a `static inline` function); SwiftPM wants a source file per
// C target.
#include "COpsLogPrefetch.h"
