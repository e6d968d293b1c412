// The DeliveryQueue module.
