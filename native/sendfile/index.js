'use strict';
// The compiled addon, or null where it was not built (not Linux, no compiler): callers then use
// their own copy path.
let addon = null;
try {
  addon = require('./build/Release/sendfile.node');
} catch {
  addon = null;
}
module.exports = addon;
