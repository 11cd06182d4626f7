"""The tick's work sources: every module here registers one (:func:`scheduler.work.register`)."""
