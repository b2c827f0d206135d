"""Machine learning on factor panels: learning datasets, models, and their training.

:mod:`alphaloop.models.dataset` turns a :class:`~alphaloop.data.panel.Panel`
and factor expressions (or a factor library such as Alpha158) into a
:class:`~alphaloop.models.dataset.LearningData`: a float32 feature matrix,
forward-return labels with their end times for purged cross-validation, and
the map back to the panel's (time, asset) grid. Errors raised here are
:class:`~alphaloop.models.dataset.ModelError`.
"""
