"""Baskets (custom indexes): the baskets table and its management (``store``), basket return
series and analytics (``series``), the factor returns panel, their checks, the refresh job and
the sensor that keeps one partition per basket."""
