"""LLM-driven instruction proposal (APE induction, OPRO refinement, resampling) as a search hook."""
from promptsearch.propose.proposer import DSPyProposer, LocalProposer, Proposer, make_proposer
from promptsearch.propose.rounds import ProposalHook

__all__ = ["DSPyProposer", "LocalProposer", "ProposalHook", "Proposer", "make_proposer"]
