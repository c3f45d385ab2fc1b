"""Styles that change over space (docs/regions.md): person segmentation, temporally stable masks, user mattes,
and the region composite that hands the temporal step one stylization."""
