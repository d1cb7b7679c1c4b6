//! The GeneralStateTests conformance runner.
