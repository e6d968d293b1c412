// The MappingKit module.
