"""Painted keys carried to the whole shot (``render --keyframe N=FILE``, ``--keyframes-every N``).

:mod:`.options` is the pure-data setting, :mod:`.plan` resolves it against the clip
(positions, files, shots) before anything is written, and :mod:`.source` is the
:class:`~flowstyle.io.source.FrameSource` whose frames are the propagated pictures
(:mod:`flowstyle.temporal.propagate`), so the one render loop writes them with the
clip's timing, audio and alpha (docs/keyframes.md).
"""
