enum _PlaceholderMetropulseAPI {}
