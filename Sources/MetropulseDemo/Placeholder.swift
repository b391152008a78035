enum _PlaceholderMetropulseDemo {}
