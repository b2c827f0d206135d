"""Validation: tell skill from luck and keep test data out of training.

Statistics that discount a backtest for chance and for the number of trials
(PSR, DSR, MinTRL, MinBTL, PBO), and cross-validation splitters for labels
that span time (purged k-fold, walk-forward, combinatorial purged CV), which
purge training labels that overlap a test period and embargo the rows after it.
"""
