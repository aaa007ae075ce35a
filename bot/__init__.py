"""USS Intake Bot: confidential intake, consent and booking for the Union Support Service."""

__version__ = "0.1.0"
