"""nn_spectra: deep networks at initialization through free probability."""
