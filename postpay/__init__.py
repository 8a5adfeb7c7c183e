"""先诊疗后付费 (treat first, pay later) with a family-pay hub: the domain and its HTTP APIs."""
