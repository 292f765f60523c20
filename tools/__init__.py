"""Developer tools that are not part of the product and stay out of the wheel (training, data prep)."""
