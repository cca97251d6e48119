// Renders what the active plugin modules put into one place of a core page.
import { Suspense } from 'react';
import Loading from '../components/Loading';
import { slotsOf } from './registry';
import type { SlotName } from './types';
import { usePlugins } from './usePlugins';

export default function PluginSlot({ name }: { name: SlotName }) {
  const slots = slotsOf(usePlugins(), name);
  return (
    <>
      {slots.map(({ name: plugin, Component }) => (
        <Suspense key={plugin} fallback={<Loading />}>
          <Component />
        </Suspense>
      ))}
    </>
  );
}
