"""imageio"""
