"""Operations: metrics, retention."""
