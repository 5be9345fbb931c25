"""Simulated backprop submissions, honest and adversarial, for the grading pipeline's tests."""
