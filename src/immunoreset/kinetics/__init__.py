"""Cellular kinetics: CAR-T NCA, B-cell aplasia and reconstitution, autoantibody decline, and
the Stein 2019 population cellular-kinetic model with individual and population fitting.

See ``docs/kinetics.md`` for the conventions and options.
"""
