// The SegmentIngest module.
