"""The facilities blueprint, shared by its page modules."""

from flask import Blueprint

bp = Blueprint("facilities", __name__, url_prefix="/facilities")
