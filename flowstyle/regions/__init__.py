"""Styles that change over space (issue #16): person segmentation, temporally stable masks, user mattes,
and the region composite that hands the temporal step one stylization."""
