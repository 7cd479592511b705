"""Basic Grayscale/Color Print Management: film composition and the print SCU."""
