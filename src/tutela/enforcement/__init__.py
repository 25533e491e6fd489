"""Domain: what follows a decision: takedown, the evidence vault (Art 22), notices, complaints."""
