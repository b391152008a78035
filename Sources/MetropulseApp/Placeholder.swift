enum _PlaceholderMetropulseApp {}
