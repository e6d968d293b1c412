// The AdobeTargetSimulator module.
