// Resetting a dialog's own state when it opens, during render (React's "adjusting state
// when a prop changes"), so an effect never sets state just to start over.
import { useState } from 'react';

/**
 * Calls `onOpen` once each time `openKey` changes to a non-null value (a dialog opening,
 * or opening for another record). `onOpen` may only set state of the calling component.
 */
export function useOnOpen(openKey: string | null, onOpen: () => void): void {
  const [seen, setSeen] = useState<string | null>(null);
  if (openKey !== seen) {
    setSeen(openKey);
    if (openKey !== null) onOpen();
  }
}
