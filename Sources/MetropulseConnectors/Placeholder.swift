enum _PlaceholderMetropulseConnectors {}
