//! The hostile-module suite.
