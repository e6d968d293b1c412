// The AdobeTarget module.
