"""The identifier finders behind :mod:`gateway.intel.redactor`, one module per kind.

:mod:`.spans` holds what they share (findings, tokens), :mod:`.numbers` reads spoken numbers,
:mod:`.phones` finds phone, card and social security numbers, :mod:`.emails` e-mail addresses
and :mod:`.addresses` street addresses.
"""
